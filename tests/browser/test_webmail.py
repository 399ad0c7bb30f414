"""Webmail in a real browser: a message delivered over SMTP shows in the Inbox and opens;
reading it sets \\Seen, which an IMAP client sees; the list comes in windows (Older
messages); another user gets nothing at the message's URL. Screenshots at 1280 and 360 px
wide, in light and dark colour schemes, go to the test's screenshots folder.
"""

from __future__ import annotations

import http.server
import imaplib
import re
import smtplib
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from groupware import runtime as runtime_module
from groupware.config import Config
from groupware.services.core.access import SYSTEM
from groupware.services.delivery.send import Draft
from groupware.services.mail.preferences import MailSettings
from tests.browser.hostile import hostile
from tests.browser.screens import WIDE, shoot
from tests.conftest import ADMIN_PASSWORD, TEST_DNS, Served, serving, with_listeners

NINA, NINA_PASSWORD = "nina@example.test", "Nina-pass-123456"
OTTO, OTTO_PASSWORD = "otto@example.test", "Otto-pass-123456"


@pytest.fixture
def mail_server(config: Config) -> Iterator[Served]:
    """The portal, the MX and IMAP on free loopback ports, with Nina and Otto."""
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    with serving(with_listeners(config, http="on", smtp="on", imap="on")) as served:
        for address, password in ((NINA, NINA_PASSWORD), (OTTO, OTTO_PASSWORD)):
            user = served.services.directory.add_user(SYSTEM, address, password)
            # Sent at once: the tests read what arrives (test_undo_and_send_later holds).
            person = served.services.auth.principal(user.id)
            assert person is not None
            served.services.preferences.set(person, MailSettings(undo_seconds=0))
        yield served


def send(served: Served, subject: str, body: str, to: str = NINA) -> None:
    message = EmailMessage()
    message["From"] = "Carol Example <carol@elsewhere.example>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="elsewhere.example")
    message.set_content(body)
    with smtplib.SMTP("127.0.0.1", served.ports["smtp"], timeout=30) as client:
        client.send_message(message)


def log_in(page: Page, base: str, address: str, password: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("E-mail address").fill(address)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Mail")).to_be_visible()


def open_message(page: Page, subject: str) -> None:
    """Click the row of `subject` and wait for the message: mail.js swaps the reader in
    without a navigation, so a click returns while the list (with its own Delete) shows."""
    page.get_by_role("link", name=re.compile(re.escape(subject))).click()
    expect(page.get_by_role("heading", name=subject, level=1)).to_be_visible()


def imap_flags(served: Served, subject: str) -> str:
    with imaplib.IMAP4("127.0.0.1", served.ports["imap"]) as client:
        client.login(NINA, NINA_PASSWORD)
        client.select("INBOX", readonly=True)
        _, found = client.search(None, "SUBJECT", f'"{subject}"')
        [number] = found[0].split()
        _, data = client.fetch(number, "(FLAGS)")
        return data[0].decode()  # type: ignore[union-attr]


def test_a_delivered_message_is_listed_opened_and_seen_everywhere(
    mail_server: Served, new_page, shots: Path
) -> None:
    base = mail_server.base_url
    send(mail_server, "Quarterly figures", "The numbers are in.\nSee you on Monday.")
    assert "\\Seen" not in imap_flags(mail_server, "Quarterly figures")

    page: Page = new_page(viewport=WIDE)
    log_in(page, base, NINA, NINA_PASSWORD)
    page.get_by_role("link", name="Mail").click()
    expect(page.get_by_role("heading", name=re.compile("Inbox"))).to_be_visible()
    folders = page.get_by_role("navigation", name="Folders")
    for name in ("Inbox", "Drafts", "Sent", "Trash"):
        expect(folders.get_by_role("link", name=name, exact=True)).to_be_visible()
    row = page.get_by_role("link", name=re.compile("Quarterly figures"))
    expect(row).to_contain_text("Carol Example")
    shoot(page, shots, "mail-list")

    row.click()
    expect(page.get_by_role("heading", name="Quarterly figures")).to_be_visible()
    expect(page.locator("#message-text")).to_contain_text("The numbers are in.")
    shoot(page, shots, "mail-message")
    assert "\\Seen" in imap_flags(mail_server, "Quarterly figures")  # read in the browser

    # Another user at the same URL reaches nothing: the URL names Otto's own INBOX.
    other: Page = new_page(viewport=WIDE)
    log_in(other, base, OTTO, OTTO_PASSWORD)
    answer = other.goto(page.url)
    assert answer is not None and answer.status == 404
    expect(other.get_by_text("Quarterly figures")).to_have_count(0)


def test_the_list_comes_in_windows_newest_first(mail_server: Served, new_page) -> None:
    for number in range(1, 56):
        send(mail_server, f"Note {number:02d}", f"Body {number}")
    page: Page = new_page(viewport=WIDE)
    log_in(page, mail_server.base_url, NINA, NINA_PASSWORD)
    page.goto(mail_server.base_url + "/mail")
    rows = page.locator("ul.messages > li")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("Note 55")
    expect(rows.last).to_contain_text("Note 06")
    page.get_by_role("link", name="Older messages").click()
    expect(rows).to_have_count(5)
    expect(rows.first).to_contain_text("Note 05")
    expect(rows.last).to_contain_text("Note 01")
    expect(page.get_by_role("link", name="Older messages")).to_have_count(0)


def test_a_folder_or_message_that_is_not_there_is_a_404(mail_server: Served, new_page) -> None:
    page: Page = new_page(viewport=WIDE)
    log_in(page, mail_server.base_url, NINA, NINA_PASSWORD)
    for path in (
        "/mail/folder/Nowhere",
        "/mail/message/INBOX/999",
        "/mail/message/Nowhere/1",
        "/mail/message/INBOX/0",
        "/mail/message/INBOX/" + "9" * 30,
    ):
        answer = page.goto(mail_server.base_url + path)
        assert answer is not None and answer.status == 404, path
    answer = page.goto(mail_server.base_url + "/mail/folder/INBOX?before=" + "9" * 30)
    assert answer is not None and answer.status == 200


def imap_subjects(served: Served, mailbox: str) -> dict[str, str]:
    """Subject → FLAGS of each message in `mailbox`, as Nina's IMAP client sees them."""
    found = {}
    with imaplib.IMAP4("127.0.0.1", served.ports["imap"]) as client:
        client.login(NINA, NINA_PASSWORD)
        _, [count] = client.select(mailbox, readonly=True)
        if count == b"0":
            return found
        _, data = client.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        for item in data:
            if isinstance(item, tuple):
                subject = item[1].decode().split(":", 1)[1].strip()
                found[subject] = item[0].decode()
    return found


def test_delete_archive_and_mark_unread(mail_server: Served, new_page, shots: Path) -> None:
    base = mail_server.base_url
    for subject in ("Alpha", "Beta", "Gamma"):
        send(mail_server, subject, f"About {subject}.")
    page: Page = new_page(viewport=WIDE)
    log_in(page, base, NINA, NINA_PASSWORD)
    page.goto(base + "/mail")
    shoot(page, shots, "mail-selection")

    open_message(page, "Alpha")
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_have_text("Moved to Trash.")
    expect(page.get_by_role("link", name=re.compile("Alpha"))).to_have_count(0)
    assert set(imap_subjects(mail_server, "Trash")) == {"Alpha"}

    page.get_by_label("Select Beta").check()
    page.get_by_label("Select Gamma").check()
    page.get_by_role("button", name="Archive").click()
    expect(page.get_by_role("status")).to_have_text("Archived.")
    expect(page.get_by_text("No messages.")).to_be_visible()
    archived = imap_subjects(mail_server, "Archive")
    assert set(archived) == {"Beta", "Gamma"}
    assert "\\Seen" not in archived["Beta"]

    page.get_by_role("navigation", name="Folders").get_by_role("link", name="Archive").click()
    open_message(page, "Beta")
    assert "\\Seen" in imap_subjects(mail_server, "Archive")["Beta"]
    page.get_by_role("button", name="Mark unread").click()
    expect(page.locator("ul.messages li.unread")).to_have_count(2)
    assert "\\Seen" not in imap_subjects(mail_server, "Archive")["Beta"]

    # In the Trash, Delete deletes for good.
    page.get_by_role("navigation", name="Folders").get_by_role("link", name="Trash").click()
    open_message(page, "Alpha")
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("No messages.")).to_be_visible()
    assert imap_subjects(mail_server, "Trash") == {}

    # A change without the form's CSRF token is refused.
    answer = page.request.post(base + "/mail/act/Archive", form={"uid": "1", "action": "delete"})
    assert answer.status == 400
    assert set(imap_subjects(mail_server, "Archive")) == {"Beta", "Gamma"}


class Counting(http.server.BaseHTTPRequestHandler):
    """A loopback web server standing for the outside world: it counts what reaches it."""

    hits: list[str] = []

    def do_GET(self) -> None:
        Counting.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def outside() -> Iterator[str]:
    Counting.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def send_html(served: Served, subject: str, html: str) -> None:
    message = EmailMessage()
    message["From"] = "Mallory <mallory@elsewhere.example>"
    message["To"] = NINA
    message["Subject"] = subject
    message.set_content("The plain version.")
    message.add_alternative(
        f"<html><body><p>Visible {subject}</p>{html}</body></html>", subtype="html"
    )
    with smtplib.SMTP("127.0.0.1", served.ports["smtp"], timeout=30) as client:
        client.send_message(message)


def test_hostile_html_runs_nothing_and_reaches_nothing(
    mail_server: Served, new_page, outside: str, shots: Path
) -> None:
    corpus = hostile(outside)
    for number, html in enumerate(corpus):
        send_html(mail_server, f"Hostile {number:02d}", html)
    page: Page = new_page(viewport=WIDE)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, mail_server.base_url, NINA, NINA_PASSWORD)
    for number in range(len(corpus)):
        # Each opened as a reader opens it (UID number + 1); the list's link to it is
        # tested elsewhere, and going through the list doubled this test's minute.
        page.goto(f"{mail_server.base_url}/mail/message/INBOX/{number + 1}")
        expect(page.get_by_role("heading", name=f"Hostile {number:02d}")).to_be_visible()
        frame = page.frame_locator("iframe[title=Message]")
        expect(frame.get_by_text(f"Visible Hostile {number:02d}")).to_be_visible()
        page.wait_for_timeout(150)  # what a refresh or an animation would do, done
        if number == 0:
            shoot(page, shots, "mail-html")
    assert dialogs == []
    assert Counting.hits == []
    # The frame's page carries its own policy, and is ours only inside our own pages.
    uid = 1
    answer = page.request.get(f"{mail_server.base_url}/mail/body/INBOX/{uid}")
    assert answer.status == 200
    policy = answer.headers["content-security-policy"]
    assert policy.startswith("sandbox") and "default-src 'none'" in policy
    assert "script" not in policy and answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"


def imap_message(served: Served, address: str, password: str, mailbox: str) -> list[bytes]:
    """Every message in `mailbox` of `address`, whole, as its IMAP client reads them."""
    with imaplib.IMAP4("127.0.0.1", served.ports["imap"]) as client:
        client.login(address, password)
        _, [count] = client.select(mailbox, readonly=True)
        if count == b"0":
            return []
        _, data = client.fetch("1:*", "(BODY.PEEK[])")
        return [item[1] for item in data if isinstance(item, tuple)]


def test_compose_and_reply(mail_server: Served, new_page, shots: Path) -> None:
    base = mail_server.base_url
    page: Page = new_page(viewport=WIDE)
    log_in(page, base, NINA, NINA_PASSWORD)
    page.goto(base + "/mail")
    page.get_by_role("link", name="Compose").click()
    to = page.get_by_role("combobox", name="To")
    to.press_sequentially("ott")  # offered from the directory; arrows and Enter take it
    expect(page.get_by_role("option", name=OTTO)).to_be_visible()
    to.press("ArrowDown")
    to.press("Enter")
    expect(to).to_have_value(f"{OTTO}, ")
    page.get_by_label("To").fill(f"Otto <{OTTO}>, someone@elsewhere.example")
    page.get_by_label("Subject").fill("Lunch on Friday")
    page.get_by_label("Message").fill("Shall we meet at noon?\nNina")
    shoot(page, shots, "mail-compose")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_have_text("Sent.")
    expect(page).to_have_url(re.compile(r"/mail/folder/INBOX$"))  # not the form: no resend

    [received] = imap_message(mail_server, OTTO, OTTO_PASSWORD, "INBOX")
    assert b"Subject: Lunch on Friday" in received and b"Shall we meet at noon?" in received
    assert f"From: {NINA}".encode() in received or NINA.encode() in received.split(b"\r\n\r\n")[0]
    [sent] = imap_message(mail_server, NINA, NINA_PASSWORD, "Sent")
    assert b"Subject: Lunch on Friday" in sent
    queued = mail_server.services.queue.list_all(SYSTEM)
    assert [[r.address for r in q.recipients] for q in queued] == [["someone@elsewhere.example"]]

    # A reply goes to the sender, threaded, and lands in Sent too.
    send(mail_server, "Contract draft", "Please have a look.")
    page.goto(base + "/mail")
    page.get_by_role("link", name=re.compile("Contract draft")).click()
    page.get_by_role("link", name="Reply", exact=True).click()
    expect(page.get_by_label("To")).to_have_value("carol@elsewhere.example")
    expect(page.get_by_label("Subject")).to_have_value("Re: Contract draft")
    expect(page.get_by_label("Message")).to_have_value(re.compile("> Please have a look."))
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_have_text("Sent.")
    replies = [
        m for m in imap_message(mail_server, NINA, NINA_PASSWORD, "Sent") if b"Re: Contract" in m
    ]
    assert len(replies) == 1 and b"In-Reply-To: <" in replies[0]

    # A recipient we do not have is refused before anything is sent; the form stays.
    page.get_by_role("link", name="Compose").click()
    page.get_by_label("To").fill("nobody@example.test")
    page.get_by_label("Subject").fill("Lost")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("alert")).to_contain_text("no such recipient: nobody@example.test")
    expect(page.get_by_label("Subject")).to_have_value("Lost")
    assert len(imap_message(mail_server, NINA, NINA_PASSWORD, "Sent")) == 2


def test_search_across_folders(mail_server: Served, new_page, shots: Path) -> None:
    base = mail_server.base_url
    send(mail_server, "Invoice 1234", "The zebrafish invoice is attached.")
    send(mail_server, "Old invoice", "Another zebrafish, archived.")
    send(mail_server, "Unrelated", "Nothing to see.")
    nina = mail_server.services.auth.principal(
        mail_server.services.directory.get_user(SYSTEM, NINA).id
    )
    assert nina is not None
    window = mail_server.services.mail_view.window(nina, "INBOX")
    old = next(m.uid for m in window.messages if m.subject == "Old invoice")
    mail_server.services.mail_view.file(nina, "INBOX", [old], "\\Archive")

    page: Page = new_page(viewport=WIDE)
    log_in(page, base, NINA, NINA_PASSWORD)
    page.goto(base + "/mail")
    box = page.get_by_role("searchbox", name="Search")
    box.fill("zebrafish")
    box.press("Enter")
    rows = page.locator("ul.messages > li")
    expect(rows).to_have_count(2)
    expect(page.get_by_role("link", name=re.compile("Old invoice"))).to_contain_text("Archive")
    shoot(page, shots, "mail-search")

    box = page.get_by_role("searchbox", name="Search")
    box.fill("zebrafish in:INBOX")
    box.press("Enter")
    expect(rows).to_have_count(1)
    page.get_by_role("link", name=re.compile("Invoice 1234")).click()
    expect(page.get_by_role("heading", name="Invoice 1234")).to_be_visible()

    send_with_files(mail_server, "Scanned zebra", "http://127.0.0.1:9")
    box = page.get_by_role("searchbox", name="Search")
    box.fill("has:attachment")
    box.press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Scanned zebra")

    page.goto(base + "/mail/search?q=" + "subject%3A%22open")
    expect(page.get_by_role("alert")).to_contain_text("a quote is not closed")


PIXEL = bytes.fromhex(  # a 1x1 PNG
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf000000030101001a0d5e2b0000000049454e44ae426082"
)


def send_pictures(served: Served, subject: str, envelope: str) -> None:
    """An HTML message from Pat with a remote image, sent by `envelope` (SMTP MAIL FROM)."""
    message = EmailMessage()
    message["From"] = "Pat <pat@trusted.example>"
    message["To"] = NINA
    message["Subject"] = subject
    message.set_content("Pictures.")
    message.add_alternative(
        '<p><img alt="tracker" src="http://127.0.0.1:9/t.png"></p>', subtype="html"
    )
    with smtplib.SMTP("127.0.0.1", served.ports["smtp"], timeout=30) as client:
        client.send_message(message, from_addr=envelope)


def send_with_files(served: Served, subject: str, remote: str) -> bytes:
    """An HTML message with an inline (cid:) image, a remote image and a binary file;
    returns the file's content."""
    content = bytes(range(256)) * 40 + b"\r\n\x00end"
    message = EmailMessage()
    message["From"] = "Carol Example <carol@elsewhere.example>"
    message["To"] = NINA
    message["Subject"] = subject
    message.set_content("Plain version.")
    message.add_alternative(
        f'<p>Logo: <img alt="logo" src="cid:logo@x">'
        f' and <img alt="tracker" src="{remote}/t.png"></p>',
        subtype="html",
    )
    message.get_payload()[1].add_related(PIXEL, "image", "png", cid="<logo@x>")
    message.add_attachment(content, "application", "octet-stream", filename="Résumé 2026.bin")
    with smtplib.SMTP("127.0.0.1", served.ports["smtp"], timeout=30) as client:
        client.send_message(message)
    return content


def test_attachments_images_and_forward(
    mail_server: Served, new_page, shots: Path, outside: str
) -> None:
    """Files are listed by name and download byte for byte; the message's own images
    show at once, remote ones only when asked; a forward carries the files on, and a
    file attached in Compose reaches its recipient."""
    base = mail_server.base_url
    content = send_with_files(mail_server, "Quarterly files", outside)
    page: Page = new_page(viewport=WIDE)
    log_in(page, base, NINA, NINA_PASSWORD)
    page.goto(base + "/mail")
    page.get_by_role("link", name=re.compile("Quarterly files")).click()
    link = page.get_by_role("link", name="Résumé 2026.bin")
    expect(link).to_be_visible()
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "Résumé 2026.bin"
    assert Path(download.value.path()).read_bytes() == content
    answer = page.request.get(base + (link.get_attribute("href") or ""))
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.headers["content-disposition"].startswith("attachment")

    frame = page.frame_locator("iframe[title=Message]")
    logo = frame.get_by_role("img", name="logo")
    expect(logo).to_have_attribute("src", re.compile("^data:image/png;base64,"))
    expect(frame.get_by_role("img", name="tracker")).not_to_have_attribute("src", re.compile("."))
    assert Counting.hits == []
    shoot(page, shots, "mail-attachments")
    page.get_by_role("link", name="Show remote images").click()
    tracker = page.frame_locator("iframe[title=Message]").get_by_role("img", name="tracker")
    expect(tracker).to_have_attribute("src", f"{outside}/t.png")
    for _ in range(50):
        if Counting.hits:
            break
        page.wait_for_timeout(100)
    assert Counting.hits == ["/t.png"]  # asked for: the frame's policy let it through

    page.get_by_role("link", name="Forward").click()
    expect(page.get_by_label("Subject")).to_have_value("Fwd: Quarterly files")
    expect(page.get_by_label("Message")).to_have_value(re.compile("Forwarded message"))
    expect(page.get_by_text("Résumé 2026.bin")).to_be_visible()
    page.get_by_label("To").fill(OTTO)
    page.get_by_label("Attach", exact=True).set_input_files(
        [{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"my notes\n"}]
    )
    shoot(page, shots, "mail-forward")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_have_text("Sent.")
    [received] = imap_message(mail_server, OTTO, OTTO_PASSWORD, "INBOX")
    parsed = BytesParser(policy=policy.default).parsebytes(received)
    files = {part.get_filename(): part.get_content() for part in parsed.iter_attachments()}
    assert files == {"notes.txt": "my notes\n", "Résumé 2026.bin": content}

    # Forwarded whole: the original goes as a message/rfc822 attachment.
    page.goto(base + "/mail")
    page.get_by_role("link", name=re.compile("Quarterly files")).click()
    page.get_by_role("link", name="Forward").click()
    page.get_by_label("To").fill(OTTO)
    page.get_by_label("Forward as attachment").check()
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_have_text("Sent.")
    second = imap_message(mail_server, OTTO, OTTO_PASSWORD, "INBOX")[1]
    parsed = BytesParser(policy=policy.default).parsebytes(second)
    [whole] = list(parsed.iter_attachments())
    assert whole.get_content_type() == "message/rfc822"
    assert whole.get_content()["Subject"] == "Quarterly files"


def test_another_user_gets_no_file_or_source(mail_server: Served, new_page) -> None:
    send_with_files(mail_server, "Private files", "http://127.0.0.1:9")
    page: Page = new_page(viewport=WIDE)
    log_in(page, mail_server.base_url, OTTO, OTTO_PASSWORD)
    for path in (
        "/mail/attachment/INBOX/1/2",
        "/mail/attachment/INBOX/1/1.1",
        "/mail/source/INBOX/1",
        "/mail/compose?forward=1&folder=INBOX",
        "/mail/compose?reply=1&folder=INBOX",
        "/mail/compose?draft=1",
        "/mail/body/INBOX/1?remote=1",
    ):
        assert page.request.get(mail_server.base_url + path).status == 404, path
    # Nina's held message, draft and settings are hers: Otto's forms reach none of them.
    nina = mail_server.services.auth.principal(
        mail_server.services.directory.get_user(SYSTEM, NINA).id
    )
    assert nina is not None
    held = mail_server.services.sending.send(
        nina, Draft(OTTO, "", "", "Held", "x"), hold=timedelta(hours=1)
    ).held
    page.goto(mail_server.base_url + "/mail/outbox")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    base = mail_server.base_url
    answer = page.request.post(f"{base}/mail/outbox/{held}/undo", form={"csrf_token": token})
    assert "Too late" in answer.text() and mail_server.services.sending.waiting(nina)
    answer = page.request.post(
        f"{base}/mail/act/INBOX", form={"csrf_token": token, "uid": "1", "action": "delete"}
    )
    assert len(imap_message(mail_server, NINA, NINA_PASSWORD, "INBOX")) == 1  # untouched
    for path in ("/settings/rules/1/remove", "/mail/trust/INBOX/1"):
        assert page.request.post(base + path, form={"csrf_token": token}).status == 404, path


def test_changes_made_anywhere_show_without_reload(mail_server: Served, new_page) -> None:
    """A delivery over SMTP and a flag set over IMAP reach the open list by themselves
    (server-sent events), and the page is the same page: it was not reloaded."""
    base = mail_server.base_url
    send(mail_server, "Before", "Already here.")
    page: Page = new_page(viewport=WIDE)
    log_in(page, base, NINA, NINA_PASSWORD)
    page.goto(base + "/mail")
    expect(page.locator("ul.messages > li")).to_have_count(1)
    page.evaluate("window.sameDocument = true")
    page.get_by_role("checkbox", name="Select Before").check()
    page.wait_for_timeout(300)  # the stream is open

    send(mail_server, "Arrived live", "Delivered while the page was open.")
    expect(page.get_by_role("link", name=re.compile("Arrived live"))).to_be_visible(timeout=3000)
    expect(page.get_by_role("checkbox", name="Select Before")).to_be_checked()  # kept
    expect(page.locator("nav.folders li", has_text="Inbox")).to_contain_text("2")

    with imaplib.IMAP4("127.0.0.1", mail_server.ports["imap"]) as client:
        client.login(NINA, NINA_PASSWORD)
        client.select("INBOX")
        client.uid("STORE", "2", "+FLAGS", "(\\Seen)")
    row = page.locator("ul.messages > li", has_text="Arrived live")
    expect(row).not_to_have_class(re.compile("unread"), timeout=3000)
    assert page.evaluate("window.sameDocument") is True


def test_moving_between_mail_pages_swaps_them_in_place(
    mail_server: Served, new_page, shots: Path
) -> None:
    """Opening a message, going back and paging happen in the page that is open (no new
    document: the stream and scripts stay); the address, title and history follow, the
    heading takes the focus, news still arrives after a move, and a page that is not a
    mail page (here a message gone meanwhile) is loaded as usual."""
    base = mail_server.base_url
    for subject in ("Older one", "Newer one"):
        send(mail_server, subject, f"{subject} text.")
    page: Page = new_page(viewport=WIDE)
    log_in(page, base, NINA, NINA_PASSWORD)
    page.goto(base + "/mail")
    page.evaluate("window.sameDocument = true")

    open_message(page, "Older one")
    expect(page).to_have_url(re.compile(r"/mail/message/INBOX/1$"))
    expect(page).to_have_title(re.compile("^Older one"))
    assert page.evaluate("document.activeElement.id") == "subject"
    page.go_back()
    expect(page.get_by_role("link", name=re.compile("Newer one"))).to_be_visible()
    expect(page).to_have_url(re.compile(r"/mail/folder/INBOX$"))
    page.go_forward()
    expect(page.get_by_role("heading", name="Older one", level=1)).to_be_visible()
    page.get_by_role("link", name="Newer message").click()
    expect(page.get_by_role("heading", name="Newer one", level=1)).to_be_visible()
    assert page.evaluate("window.sameDocument") is True
    shoot(page, shots, "mail-moved")

    page.wait_for_timeout(300)  # the stream opened on the list still runs
    send(mail_server, "Came later", "After the moves.")
    folders = page.get_by_role("navigation", name="Folders")
    inbox = folders.locator("li", has_text="Inbox")
    expect(inbox).to_have_text(re.compile(r"Inbox\s*1"), timeout=3000)  # the one unread
    assert page.evaluate("window.sameDocument") is True

    page.get_by_role("link", name="← Inbox").click()
    expect(page.get_by_role("link", name=re.compile("Came later"))).to_be_visible()
    page.evaluate(  # a row whose message went away before the click
        """() => { const row = document.querySelector("ul.messages a");
                   row.href = "/mail/message/INBOX/999"; row.textContent = "Gone"; }"""
    )
    page.get_by_role("link", name="Gone").click()
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/mail/message/INBOX/999$"))
    assert page.evaluate("window.sameDocument") is None  # loaded as a page


def test_keyboard_reads_answers_and_files(mail_server: Served, new_page, shots: Path) -> None:
    base = mail_server.base_url
    for subject in ("First", "Second", "Third"):
        send(mail_server, subject, f"The {subject.lower()} one.")
    page: Page = new_page(viewport=WIDE)
    log_in(page, base, NINA, NINA_PASSWORD)
    page.goto(base + "/mail")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("o")
    expect(page.get_by_role("heading", name="Second")).to_be_visible()
    page.keyboard.press("j")  # the next (older) message
    expect(page.get_by_role("heading", name="First")).to_be_visible()
    page.keyboard.press("k")
    expect(page.get_by_role("heading", name="Second")).to_be_visible()
    page.keyboard.press("r")
    expect(page.get_by_label("Subject")).to_have_value("Re: Second")
    page.keyboard.press("j")  # typing in a field is typing, not a shortcut
    expect(page.get_by_label("Subject")).to_have_value("Re: Second")
    page.go_back()
    page.keyboard.press("e")
    expect(page.get_by_role("status")).to_have_text("Archived.")
    assert set(imap_subjects(mail_server, "Archive")) == {"Second"}

    page.keyboard.press("j")
    page.keyboard.press("#")
    expect(page.get_by_role("status")).to_contain_text("Moved to Trash")
    assert set(imap_subjects(mail_server, "Trash")) == {"Third"}

    page.keyboard.press("?")
    help = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help).to_be_visible()
    shoot(page, shots, "mail-shortcuts")
    page.keyboard.press("Escape")
    expect(help).to_be_hidden()
    page.keyboard.press("/")
    expect(page.get_by_role("searchbox", name="Search")).to_be_focused()
    page.keyboard.press("Escape")
    page.locator("body").click()
    page.keyboard.press("c")
    expect(page.get_by_role("heading", name="Compose")).to_be_visible()


def test_folders_move_flag_and_sort(mail_server: Served, new_page, shots: Path) -> None:
    """Folders are created (inside another too), renamed, hidden and deleted; messages
    move to any folder, are flagged, leave Junk with Not junk; the list sorts."""
    base = mail_server.base_url
    send(mail_server, "Banana split", "b" * 3000)
    send(mail_server, "apple pie", "short")
    send(mail_server, "Cherry tart", "medium " * 40)
    page: Page = new_page(viewport=WIDE)
    log_in(page, base, NINA, NINA_PASSWORD)
    page.goto(base + "/mail")
    page.get_by_role("link", name="Manage folders").click()
    page.get_by_label("Folder name").fill("Projects")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("status")).to_have_text("Created Projects.")
    page.get_by_label("Folder name").fill("Alpha")
    page.get_by_label("Inside").select_option("Projects")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("status")).to_have_text("Created Projects/Alpha.")
    folders = page.get_by_role("navigation", name="Folders")
    expect(folders.get_by_role("link", name="Alpha")).to_be_visible()
    shoot(page, shots, "mail-folders")

    page.get_by_label("New name for Projects/Alpha").fill("Projects/Beta")
    page.get_by_role("row", name=re.compile("Alpha")).get_by_role("button", name="Rename").click()
    expect(page.get_by_role("status")).to_have_text("Renamed to Projects/Beta.")
    page.get_by_role("button", name="Show Projects/Beta in the folder list").click()
    expect(folders.get_by_role("link", name="Beta")).to_have_count(0)  # hidden, still there
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete Projects/Beta").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted Projects/Beta")
    expect(page.get_by_role("button", name="Delete Trash")).to_have_count(0)  # special: stays

    page.goto(base + "/mail")
    page.get_by_role("link", name="Sender").click()  # all from Carol: then newest first
    page.get_by_role("link", name="Subject", exact=True).click()
    subjects = page.locator("ul.messages .subject")
    expect(subjects).to_have_text(["apple pie", "Banana split", "Cherry tart"])
    page.get_by_role("link", name="Size").click()
    expect(subjects.first).to_have_text("Banana split")

    page.get_by_role("checkbox", name="Select apple pie").check()
    page.get_by_role("button", name="Flag", exact=True).click()
    expect(page.get_by_role("link", name=re.compile("Flagged: apple pie"))).to_be_visible()
    expect(page).to_have_url(re.compile(r"sort=size"))  # back where it was
    assert "\\Flagged" in imap_flags(mail_server, "apple pie")

    page.get_by_role("checkbox", name="Select Cherry tart").check()
    page.get_by_label("Move to folder").select_option("Projects")
    page.get_by_role("button", name="Move", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Moved to Projects.")
    assert set(imap_subjects(mail_server, "Projects")) == {"Cherry tart"}

    page.get_by_role("checkbox", name="Select Banana split").check()
    page.get_by_role("button", name="Junk").click()
    page.get_by_role("navigation", name="Folders").get_by_role("link", name="Junk").click()
    page.get_by_role("checkbox", name="Select Banana split").check()
    page.get_by_role("button", name="Not junk").click()
    expect(page.get_by_role("status")).to_have_text("Moved to Inbox.")
    assert "Banana split" in imap_subjects(mail_server, "INBOX")


def wait_for(check, seconds: float = 15) -> bool:  # type: ignore[no-untyped-def]
    """`check()` true within `seconds` (what a worker does in the background)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_undo_send_later_and_drafts(mail_server: Served, new_page, shots: Path) -> None:
    """A message sent waits the undo window on the server, and Undo makes it a draft
    again; drafts are kept as one types and taken up from Drafts; a message scheduled
    waits in the Outbox, where it can be stopped."""
    base = mail_server.base_url
    page: Page = new_page(viewport=WIDE)
    log_in(page, base, NINA, NINA_PASSWORD)
    page.goto(base + "/settings")
    page.get_by_label("Seconds to undo a message sent").fill("4")
    page.get_by_role("button", name="Save display").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")

    page.goto(base + "/mail/compose")
    page.get_by_label("To").fill(OTTO)
    page.get_by_label("Subject").fill("Second thoughts")
    page.get_by_label("Message").fill("Maybe not.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_have_text("Sent.")
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_role("status")).to_have_text("Not sent: the message is a draft again.")
    expect(page.get_by_label("Subject")).to_have_value("Second thoughts")
    expect(page.get_by_label("To")).to_have_value(OTTO)
    time.sleep(5)
    assert imap_message(mail_server, OTTO, OTTO_PASSWORD, "INBOX") == []  # never sent
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_have_text("Sent.")
    assert wait_for(lambda: len(imap_message(mail_server, OTTO, OTTO_PASSWORD, "INBOX")) == 1)
    assert imap_message(mail_server, NINA, NINA_PASSWORD, "Drafts") == []  # the draft went

    # A draft is kept as one types, and taken up again from Drafts.
    page.goto(base + "/mail/compose")
    page.get_by_label("Bcc").fill("otto@example.test")
    page.get_by_label("Subject").fill("Half written")
    page.get_by_label("Message").fill("To be continued")
    expect(page.locator(".autosaved")).to_have_text("Draft saved.", timeout=10_000)
    [draft] = imap_message(mail_server, NINA, NINA_PASSWORD, "Drafts")
    assert b"Subject: Half written" in draft and b"Bcc: <otto@example.test>" in draft
    page.get_by_label("Message").fill("To be continued, and finished")
    expect(page.locator(".autosaved")).to_have_text("Draft saved.")
    assert wait_for(
        lambda: (
            [b"finished" in m for m in imap_message(mail_server, NINA, NINA_PASSWORD, "Drafts")]
            == [True]
        )
    )  # one draft, the newer
    page.goto(base + "/mail")
    page.get_by_role("navigation", name="Folders").get_by_role("link", name="Drafts").click()
    page.get_by_role("link", name=re.compile("Half written")).click()
    expect(page.get_by_role("heading", name="Draft")).to_be_visible()
    expect(page.get_by_label("Message")).to_have_value(re.compile("and finished"))

    # Scheduled for tomorrow: it waits in the Outbox, and is stopped there.
    page.get_by_text("Send later").click()
    page.get_by_label("Send at").fill(
        (datetime.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    )
    shoot(page, shots, "mail-compose-later")
    page.get_by_role("button", name="Schedule").click()
    expect(page.get_by_role("status")).to_contain_text("Scheduled for")
    page.get_by_role("link", name="Outbox").click()
    expect(page.get_by_text("Half written")).to_be_visible()
    shoot(page, shots, "mail-outbox")
    page.get_by_role("button", name="Do not send Half written").click()
    expect(page.get_by_label("Subject")).to_have_value("Half written")
    assert len(imap_message(mail_server, NINA, NINA_PASSWORD, "Drafts")) == 1


def test_personal_settings_act_on_mail(mail_server: Served, new_page, shots: Path) -> None:
    """The identity's name and signature go into what is written; the away reply
    answers; forwarding sends all mail on (without a copy, when asked); a rule files;
    a sender trusted from the reader shows in the list of remote images."""
    base = mail_server.base_url
    page: Page = new_page(viewport=WIDE)
    log_in(page, base, NINA, NINA_PASSWORD)
    page.get_by_role("link", name="Settings").click()
    page.get_by_label(f"Name for {NINA}").fill("Nina Example")
    page.get_by_label(f"Signature for {NINA}").fill("Nina, Sales")
    page.get_by_role("button", name=f"Save {NINA}").click()
    expect(page.get_by_role("status")).to_have_text(f"Saved {NINA}.")
    page.goto(base + "/mail/compose")
    expect(page.get_by_label("Message")).to_have_value("\n\n-- \nNina, Sales")

    page.goto(base + "/settings")
    page.get_by_label("Reply automatically while I am away").check()
    page.get_by_label("Reply message").fill("Back on Monday.")
    page.get_by_role("button", name="Save away reply").click()
    expect(page.get_by_role("status")).to_have_text("The auto-reply is on.")

    page.get_by_label("Rule name").fill("Invoices")
    page.get_by_label("When").select_option("subject")
    page.get_by_label("Value").fill("invoice")
    page.get_by_label("Then").select_option("move_to")
    page.get_by_label("Folder or address").fill("Archive")
    page.get_by_role("button", name="Add rule").click()
    expect(page.get_by_role("status")).to_have_text("Added Invoices.")
    shoot(page, shots, "settings")
    send(mail_server, "Your invoice", "Pay soon.")
    assert set(imap_subjects(mail_server, "Archive")) == {"Your invoice"}
    queued = mail_server.services.queue.list_all(SYSTEM)
    assert [[r.address for r in q.recipients] for q in queued] == [["carol@elsewhere.example"]]

    page.get_by_label("Reply automatically while I am away").uncheck()
    page.get_by_role("button", name="Save away reply").click()
    page.get_by_label("Forward all mail to").fill(OTTO)
    page.get_by_label("Keep a copy here").uncheck()
    page.get_by_role("button", name="Save forwarding").click()
    expect(page.get_by_role("status")).to_have_text(f"All mail is forwarded to {OTTO}.")
    send(mail_server, "Passed on", "For Otto really.")
    assert "Passed on" not in imap_subjects(mail_server, "INBOX")
    queued = mail_server.services.queue.list_all(SYSTEM)  # forwards go by the queue
    assert [r.address for q in queued for r in q.recipients][-1] == OTTO
    page.get_by_label("Forward all mail to").fill("")
    page.get_by_role("button", name="Save forwarding").click()
    expect(page.get_by_role("status")).to_have_text("Mail is no longer forwarded.")

    # Pat's domain publishes SPF and DMARC: Pat's own mail passes, a forgery fails.
    TEST_DNS.add("trusted.example", "TXT", ["v=spf1 ip4:127.0.0.1 -all"])
    TEST_DNS.add("_dmarc.trusted.example", "TXT", ["v=DMARC1; p=none"])
    send_pictures(mail_server, "Pictures", "pat@trusted.example")
    page.goto(base + "/mail")
    page.get_by_role("link", name=re.compile("Pictures")).click()
    page.get_by_role("button", name="Always show images from pat@trusted.example").click()
    expect(page.get_by_role("link", name="Show remote images")).to_have_count(0)
    frame = page.frame_locator("iframe[title=Message]")
    expect(frame.get_by_role("img", name="tracker")).to_have_attribute("src", re.compile("^http"))
    page.goto(base + "/settings#images")
    expect(page.locator("#images")).to_contain_text("pat@trusted.example")

    send_pictures(mail_server, "Forged pictures", "forger@elsewhere.example")
    page.goto(base + "/mail")
    page.get_by_role("link", name=re.compile("Forged pictures")).click()
    expect(page.get_by_role("alert")).to_contain_text("failed the sender checks (DMARC)")
    expect(page.get_by_role("link", name="Show remote images")).to_be_visible()  # not loaded


def test_conversations(mail_server: Served, new_page, shots: Path) -> None:
    """Messages answering one another are one row of the list (on by default, with a
    switch), and the reader lists the whole conversation, the user's replies in Sent
    too; choosing the row acts on all of its messages."""
    base = mail_server.base_url

    def mail(subject: str, message_id: str, references: str = "") -> None:
        message = EmailMessage()
        message["From"] = "Carol Example <carol@elsewhere.example>"
        message["To"] = NINA
        message["Subject"] = subject
        message["Message-ID"] = message_id
        if references:
            message["References"] = references
            message["In-Reply-To"] = references.split()[-1]
        message.set_content(subject)
        with smtplib.SMTP("127.0.0.1", mail_server.ports["smtp"], timeout=30) as client:
            client.send_message(message)

    mail("Picnic plan", "<plan@elsewhere.example>")
    mail("Unrelated", "<other@elsewhere.example>")
    page: Page = new_page(viewport=WIDE)
    log_in(page, base, NINA, NINA_PASSWORD)
    page.goto(base + "/mail")
    page.get_by_role("link", name=re.compile("Picnic plan")).click()
    page.get_by_role("link", name="Reply", exact=True).click()
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_have_text("Sent.")
    mail("Re: Picnic plan", "<plan2@elsewhere.example>", "<plan@elsewhere.example>")

    page.goto(base + "/mail")
    rows = page.locator("ul.messages > li")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Re: Picnic plan")
    expect(rows.first).to_contain_text("2 messages")
    rows.first.get_by_role("link").click()
    conversation = page.locator("details.conversation li")
    expect(conversation).to_have_count(3)
    expect(conversation.nth(1)).to_contain_text("Sent")
    shoot(page, shots, "mail-conversation")

    page.goto(base + "/mail")
    page.get_by_role("button", name="Conversations").click()
    expect(rows).to_have_count(3)
    page.get_by_role("button", name="Conversations").click()
    expect(rows).to_have_count(2)
    page.get_by_role("checkbox", name="Select Re: Picnic plan and its conversation").check()
    page.get_by_role("button", name="Archive").click()
    expect(page.get_by_role("status")).to_have_text("Archived.")
    assert set(imap_subjects(mail_server, "Archive")) == {"Picnic plan", "Re: Picnic plan"}


def test_formatted_mail_is_markdown_sent_as_html_and_text(mail_server: Served, new_page) -> None:
    base = mail_server.base_url
    page: Page = new_page(viewport=WIDE)
    log_in(page, base, NINA, NINA_PASSWORD)
    page.goto(base + "/mail/compose")
    page.get_by_label("To").fill(OTTO)
    page.get_by_label("Subject").fill("Agenda")
    page.get_by_label("Message").fill("**Monday**\n\n- budget\n- <script>alert(1)</script>hiring")
    page.get_by_label("Format with Markdown").check()
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_have_text("Sent.")
    [received] = imap_message(mail_server, OTTO, OTTO_PASSWORD, "INBOX")
    parsed = BytesParser(policy=policy.default).parsebytes(received)
    assert parsed.get_content_type() == "multipart/alternative"
    html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<strong>Monday</strong>" in html and "<li>budget</li>" in html
    assert "script" not in html
    assert "**Monday**" in parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
