"""Figures and widget builders for the book's chapters, one module per topic.

Every module here follows the same contract, so a chapter notebook stays thin:

- plotting functions are pure functions of their parameters that return a matplotlib ``Figure``
  (a bare ``matplotlib.figure.Figure``, never registered with pyplot, so a widget that redraws
  many times leaks nothing);
- widget builders are thin ipywidgets wrappers around one plotting or formatting function, and
  return the widget (the notebook displays it);
- matplotlib and ipywidgets are imported inside the functions, so importing ``mobilenet_lib`` or
  a ``viz`` module never pulls them in.

Modules:

- ``style``        the shared figure helper (size, colours) every module uses
- ``conv``         the depthwise separable convolution chapter
- ``activations``  the h-swish chapter
- ``manifold``     the "ReLU and the manifold of interest" chapter
- ``mobilenet_v1`` the MobileNet V1 chapter

Import a topic module directly: ``from mobilenet_lib.viz import conv``.
"""
