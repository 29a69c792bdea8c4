"""The ``Custom::SageMakerTrainingJob`` handler's modules; ``index.handler`` is the entry point."""
