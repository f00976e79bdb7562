"""Vectored writes for a session's writer: small encoded pieces are joined into one buffer,
large frame bodies go to sendmsg() untouched (no copy), at most IOV_MAX pieces per call."""

LARGE_CHUNK = 64 * 1024       # bodies at least this big are written without joining (no copy)
_IOV_MAX = 1024


def sendv(sock, chunks):
    """Write chunks with vectored sends: small pieces are joined, large bodies go untouched."""
    iov = []
    small = []
    for chunk in chunks:
        if len(chunk) >= LARGE_CHUNK:
            if small:
                iov.append(b"".join(small))
                small = []
            iov.append(chunk)
        else:
            small.append(chunk)
    if small:
        iov.append(b"".join(small))
    while iov:
        batch = iov[:_IOV_MAX]
        sent = sock.sendmsg(batch)
        # Drop what went out; keep the unsent tail of a partly written chunk as a view.
        i = 0
        while i < len(batch) and sent >= len(batch[i]):
            sent -= len(batch[i])
            i += 1
        del iov[:i]
        if sent:
            iov[0] = memoryview(iov[0])[sent:]
