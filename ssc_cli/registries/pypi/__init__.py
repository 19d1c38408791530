"""PyPI: the PEP 691 listing, the JSON API, Requires-Dist, wheel and sdist file lists."""
