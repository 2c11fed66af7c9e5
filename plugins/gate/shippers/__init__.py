"""Parsers for log shipper configs, one module per shipper. Each module's
`problems(text)` returns the Docker-log couplings it finds; `logconfig.problems`
runs them all. Wording and severity of each coupling live in
families/log_shippers.toml, keyed by the check id."""
