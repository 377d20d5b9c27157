"""The write-ahead journal (issue 18): every intent and event, appended with a seq and a chained
checksum, durable (fsynced, group-committed) before an order is sent.

>>> from fillforge.journal import Journal
>>> j = Journal.open("orders.journal")           # doctest: +SKIP
>>> seq = j.write_ahead("order.intent", {...})   # doctest: +SKIP

The default store is SQLite (WAL mode) at a path; a ``postgresql://`` URL opens the PostgreSQL
store. See docs/journal.md.
"""

from fillforge.errors import JournalError
from fillforge.journal.codec import Record
from fillforge.journal.core import Journal
from fillforge.journal.export import Exported, export
from fillforge.journal.verify import Recovery, verify

__all__ = ["Exported", "Journal", "JournalError", "Record", "Recovery", "export", "verify"]
