"""HTTP routers, one module per area; ``api.main`` only collects them."""
