from core.signing import digests_match, is_fresh, timestamped_hmac


def test_mac_covers_timestamp_and_body():
    mac = timestamped_hmac("s3cret", 1000, b"{}")
    assert mac == timestamped_hmac("s3cret", "1000", b"{}")
    assert mac != timestamped_hmac("s3cret", 1001, b"{}")
    assert mac != timestamped_hmac("s3cret", 1000, b"{ }")
    assert mac != timestamped_hmac("other", 1000, b"{}")
    assert digests_match(mac, timestamped_hmac("s3cret", 1000, b"{}"))


def test_freshness_window_and_garbage_timestamps():
    assert is_fresh(1000, tolerance=300, now=1300)
    assert not is_fresh(1000, tolerance=300, now=1301)
    assert is_fresh("1300", tolerance=300, now=1000)
    assert not is_fresh("soon", tolerance=300, now=1000)
    assert not is_fresh(None, tolerance=300, now=1000)
