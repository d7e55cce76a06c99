"""Pages for reps and managers, served by `guanxi serve` at `/`: server-rendered HTML, no script needed,
every asset served by the app (no CDN)."""
