.PHONY: run test lint bench
run:  ## run the center (web, worker, scheduler, demo fleet)
	bin/run
test:  ## lint, checks and the whole test suite against PostgreSQL and Redis
	bin/test
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
