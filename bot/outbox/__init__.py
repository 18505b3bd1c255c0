"""The outbox: a durable queue of outgoing mail, sent at most once (design.md "outbox").

``queue`` records a mail with its Message-ID before any attempt; ``smtp`` makes one attempt and
says whether a retry is safe; ``sender`` claims, sends, retries and recovers; ``sentcopy``
files a copy in the mailbox's Sent folder; ``alerts`` tells staff when a mail cannot go out.
"""
