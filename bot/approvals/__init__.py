"""Production approvals: the approval request message, its buttons and modals, its state
in the cluster, and expiry.

    store.py   approval requests as ConfigMaps in Deckhand's namespace (compare-and-swap)
    render.py  the request message (Block Kit) and the reason modals, pure
    gate.py    `ApprovalDesk`: the requests, the buttons, the modals (an `Approval`
               decision back to the caller), `/deploy cancel`, expiry (run by the
               leader: `bot.app.leader_work`), the audit lines for `/deploy history`

Decisions are made by `commands.approvals` (pure); these modules gather the inputs and
perform the outcome.
"""
