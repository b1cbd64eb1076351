"""Local HTTP fakes of the carriers' APIs, answering as the real services do, for tests and demos."""
