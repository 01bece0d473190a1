// Host: docker, compose, install, isolation, export.
