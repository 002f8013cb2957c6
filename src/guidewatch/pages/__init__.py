"""A fetched page made comparable: normalised text, snapshot files, the suspect-version guard."""
