"""The notebooks' one-off experiments, one module per group of notebooks (nonlinearity: 00; basics: 00-03;
rectifiers: 04-05; smooth: 06-08; comparison: 09-11; reproductions: 12) and timing (activations timed, 01-11). The
library core never imports this package; notebooks import what they need, e.g. `from actlab.experiments import
rectifiers`."""
