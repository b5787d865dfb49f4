"""Finding: what is indexed from the database, searches through the access policy, the search page."""
