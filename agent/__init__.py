"""The fundguard agent: engine, intake, KB store, transports, check service, composition root, CLI."""
