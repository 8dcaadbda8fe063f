"""``python -m contracts.schema``: regenerate ``contracts/schema/contract.schema.json``."""

from contracts.schema import write_schema

if __name__ == "__main__":
    print(f"wrote {write_schema()}")
