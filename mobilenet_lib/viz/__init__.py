"""Figures and widget builders for the book's chapters, one module per topic.

Every module here follows the same contract, so a chapter notebook stays thin:

- plotting functions are pure functions of their parameters that return a matplotlib ``Figure``
  (a bare ``matplotlib.figure.Figure``, never registered with pyplot, so a widget that redraws
  many times leaks nothing);
- widget builders are thin ipywidgets wrappers around one plotting or formatting function, and
  return the widget (the notebook displays it);
- matplotlib and ipywidgets are imported inside the functions, so importing ``mobilenet_lib`` or
  a ``viz`` module never pulls them in.

Modules (one per chapter, named after its notebook; the computations they draw are in
``mobilenet_lib.experiments.<same name>``):

- ``style``                the shared figure helper (size, colours) every module uses
- ``static_view``          kernel-free views: a plotting function pre-rendered over a grid
- ``depthwise_separable``  photo convolutions, the cost calculator, where the compute goes
- ``mobilenet_v1``         the α / ρ cost explorer, the sweep and training curves
- ``manifold_collapse``    reconstructions, the dimension grid, the error curves
- ``inverted_residuals``   the block diagrams and explorer, memory traces, the ablation
- ``squeeze_excitation``   the SE demo on a photo, gates, SE cost, placement diagrams
- ``hard_swish``           smooth vs hard activations, int8 error, timings, activation sites
- ``mobilenet_v3``         bneck costs, the last stage, the search
- ``road_to_mobilenet``    the group-convolution connectivity explorer
- ``shufflenet_latency``   channel flow, latency against mult-adds, the guidelines
- ``shufflenet_networks``  the V1 and V2 unit diagrams, V1 by group count against V2
- ``accuracy_vs_cost``     published top-1 against mult-adds and measured latency
- ``deployment``           speed of every prepared form, time against mult-adds

Import a topic module directly: ``from mobilenet_lib.viz import depthwise_separable``.
"""
