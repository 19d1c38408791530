"""crates.io: the database dump for listing and updates, the sparse index for single crates."""
