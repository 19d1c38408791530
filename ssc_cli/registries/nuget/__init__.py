"""NuGet: the V3 catalog (archived leaf by leaf), registrations and nuspecs."""
