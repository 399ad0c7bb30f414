"""Connection counting per client network (protocols/connections.py): an IPv6 host holds
a whole /64, so its addresses share one count, as login throttling counts them."""

from __future__ import annotations

from groupware.protocols.connections import ConnectionLimits


def test_one_ipv6_prefix_is_one_client() -> None:
    limits = ConnectionLimits(total=100, per_ip=2)
    assert limits.admit("2001:db8:1:2::1") and limits.admit("2001:db8:1:2::ffff:1")
    assert not limits.admit("2001:db8:1:2:aaaa::3")  # a third address of the same /64
    assert limits.admit("2001:db8:1:3::1")  # the next /64 is another client
    limits.release("2001:db8:1:2::1")
    assert limits.admit("2001:db8:1:2:bbbb::4")


def test_ipv4_addresses_and_their_mapped_forms_count_alike() -> None:
    limits = ConnectionLimits(total=3, per_ip=1)
    assert limits.admit("192.0.2.1")
    assert not limits.admit("::ffff:192.0.2.1")
    assert limits.admit("192.0.2.2") and limits.admit("192.0.2.3")
    assert not limits.admit("192.0.2.4")  # the total
    limits.release("::ffff:192.0.2.1")
    assert limits.open == 2
