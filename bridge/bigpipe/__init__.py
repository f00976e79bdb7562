"""BigPipe page assembly: one page, many pagelets, each rendered by its own ZeroMQ backend.

A ``page:`` route (``--route '/shop/=page:shop.json'``) answers with the page's skeleton at
once and then streams each pagelet into its placeholder as its backend answers (BRIDGE.md
section 4). The parts:

    page.py       the page file (JSON) and its template: Page, Pagelet, load_page. Pure.
    assembly.py   what goes on the wire: skeleton, one script payload per pagelet, the closing
                  tail, or one server-assembled document; pagelet replies decoded. Sans-IO.
    runtime.js    the browser side (served at /_bridge/bigpipe.js): inserts pagelets, loads
                  their CSS before showing them and their JS after all are shown.
    runtime.py    that file's bytes, version and URL.
    front.py      the only part that does I/O: sends the pagelet requests over the req
                  backends (bridge.backends.req), waits, writes chunks. Called by
                  bridge.front.connection for ``page:`` routes.
"""
