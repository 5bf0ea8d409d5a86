"""New images: Gitea package webhooks and packages-API polling, announced with Deploy
buttons, and auto-deploy (`announcer`, `webhook`, `store`, `render`; the decisions are
`commands.delivery`)."""
