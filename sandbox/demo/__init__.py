"""The browser demo: `deckhand sandbox` runs Deckhand against the sandbox behind a web page.

`run.open_demo` starts, in one process and on loopback only, the seeded sandbox
(`sandbox.env.SandboxEnv`), the local Slack (`sandbox.slack.LocalSlack`), Deckhand itself
in HTTP mode (`bot.app.run`, exactly what `deckhand run` runs) and the page's
server (`server.DemoServer`). The page looks like a Slack channel: visitors type
`/deploy …` as one of the demo users and click buttons; the server turns both into
correctly signed Slack requests. A side panel shows the cluster and breaks it on purpose
(`breakers`).
"""
