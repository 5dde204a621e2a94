"""Signals of the case domain.

``member_case_changed`` is sent, inside the transaction that changed it, when a case
that is a stage or part of a 联办件 changes status at the node coordinating the 联办件
(or at a node that mirrors it): ``case``, ``to_status``, ``reason`` and, for 准予, the
``outputs`` its official entered. ``cases.composites`` listens to move the 联办件 on —
the sender does not know the engine, so writes never import it.
"""

from django.dispatch import Signal

member_case_changed = Signal()
