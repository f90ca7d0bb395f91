"""A client generated from docs/openapi.json by openapi-python-client sends a batch, reads it
back with a filter, pages with the cursor and fetches one event.

Run by `a_generated_python_client_sends_filters_and_pages` (crates/cli/tests/openapi.rs), with
the generated package `auditlog_client` on PYTHONPATH, the service URL as the argument and a
write+read key in AUDITLOG_KEY. Every step checks what the service answered; any difference
exits non-zero.
"""

import os
import sys

from auditlog_client import AuthenticatedClient
from auditlog_client.api.events import get_event, list_events, post_events
from auditlog_client.models import EventPage, EventsRequestType1, IngestSummary, ItemStatus
from auditlog_client.types import UNSET


def main(url: str, key: str) -> None:
    client = AuthenticatedClient(base_url=url, token=key, raise_on_unexpected_status=True)
    events = [
        {
            "id": f"gen-{i:02}",
            "action": "client.report_exported" if i % 2 else "client.login",
            "actor": {"id": "u_7" if i % 3 else "u_8", "email": "ada@example.com"},
            "outcome": "success",
            "request": {"operation": "export", "params": {"apiKey": "sk-live-123"}},
        }
        for i in range(25)
    ]
    batch = EventsRequestType1.from_dict({"events": events})
    sent = post_events.sync_detailed(client=client, body=batch)
    assert sent.status_code == 201, (sent.status_code, sent.content)
    summary = sent.parsed
    assert isinstance(summary, IngestSummary), summary
    assert summary.accepted == 25 and summary.rejected == 0, summary
    assert all(item.status == ItemStatus.ACCEPTED for item in summary.items)
    assert summary.redacted == 25, "every apiKey is masked"

    # Filter and page: u_7's events only, three to a page, following next_cursor to the end.
    expected = [e["id"] for e in events if e["actor"]["id"] == "u_7"]
    seen, cursor, pages = [], UNSET, 0
    while True:
        page = list_events.sync(client=client, actor_id="u_7", limit=3, cursor=cursor)
        assert isinstance(page, EventPage), page
        pages += 1
        seen += [event.id for event in page.events]
        assert all(event.actor.id == "u_7" for event in page.events)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert seen == expected, (seen, expected)
    assert pages == -(-len(expected) // 3), pages

    # A prefix filter, and one event fetched by id, masked as stored.
    logins = list_events.sync(client=client, action="client.login", limit=100)
    assert sorted(e.id for e in logins.events) == sorted(
        e["id"] for e in events if e["action"] == "client.login"
    )
    one = get_event.sync(client=client, id="gen-01")
    assert one.action == "client.report_exported", one
    assert one.request.params["apiKey"] == "[REDACTED]", one.request.params
    print(f"sent 25, paged {len(seen)} over {pages} pages, fetched gen-01")


if __name__ == "__main__":
    main(sys.argv[1], os.environ["AUDITLOG_KEY"])
