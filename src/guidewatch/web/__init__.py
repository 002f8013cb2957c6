"""The editors' review app: `guidewatch serve`.

Why Flask: it is small, long maintained (Pallets), server-renders Jinja2 (the templating
the digest already uses, with autoescape on for .html templates), and brings signed-cookie
sessions (itsdangerous) and a WSGI server good enough behind a reverse proxy, with no
JavaScript, no build step and no ORM of its own: the views only call `guidewatch.app.review`,
the service layer the command line uses too.

The app is built by `guidewatch.web.app.create_app`; this package imports nothing at start,
so the command line does not pay for Flask unless `serve` runs.
"""
