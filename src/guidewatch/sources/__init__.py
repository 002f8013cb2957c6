"""Where guides and cited pages come from: guides, site profiles, the fetching spider."""
