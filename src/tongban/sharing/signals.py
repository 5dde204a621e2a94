"""Signals of the sharing domain.

``data_query_settled`` is sent (inside the transaction that records it) when a DataQuery
this node asked gets its answer, a "no such record", a refusal or a final failure;
``sender`` is DataQuery and ``query`` the settled row. Receivers dispatch on
``query.use`` (e.g. the enterprise registry check listens for ``enterprise_identity``)."""

from django.dispatch import Signal

data_query_settled = Signal()
