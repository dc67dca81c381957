"""The platform's own figures and what they say: CSV import (`csv_import`), demo data (`demo`),
the token roll-up (`rollup`), the metrics the rebalancer reads (`metrics_model`, computed by
`metrics_store`), read queries for the dashboard and the CLI (`queries`) and what followed each
change (`outcomes`). May import the packages below `core.rebalancer`."""
