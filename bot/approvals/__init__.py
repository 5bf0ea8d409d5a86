"""Production approvals: the approval request message, its buttons and modals, its state
in the cluster, and expiry.

    store.py   approval requests as ConfigMaps in Deckhand's namespace (compare-and-swap)
    render.py  the request message (Block Kit) and the reason modals, pure
    gate.py    `ApprovalDesk`: the deploy flow's `ApprovalGate`, the buttons, the modals,
               `/deploy cancel`, the audit lines for `/deploy history`
    expiry.py  expiring unanswered requests (the leader's periodic task)

Decisions are made by `commands.approvals` (pure); these modules gather the inputs and
perform the outcome.
"""
