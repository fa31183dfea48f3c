"""The notebooks' one-off experiments, one module per group of notebooks. The library core never imports this
package; notebooks import what they need, e.g. `from actlab.experiments import rectifiers`."""
