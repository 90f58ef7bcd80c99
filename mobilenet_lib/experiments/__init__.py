"""The chapters' studies: computations a chapter shows that are not part of the core library.

One module per chapter, named after the chapter's notebook (``book/<name>.ipynb``); the figures
and widgets that draw these results are in ``mobilenet_lib.viz.<name>``. Each study builds on the
core (blocks, models, costs, training, benchmark) and never the other way round.

- ``depthwise_separable``  a depthwise and a pointwise convolution applied to a photo
- ``mobilenet_v1``         the paper's Tables 4/6/7 as data, costs of any (α, ρ) by formula, the
                           architecture table, training on digits, the committed sweep
- ``manifold_collapse``    the V2 paper's Figure 1: a spiral through ReLU in n dimensions and back
- ``inverted_residuals``   a block's anatomy, the V2 table, where the shortcut sits (memory), the
                           chunked block, the committed linear-bottleneck ablation
- ``squeeze_excitation``   a hand-set SE on a photo; what SE costs in MobileNet V3
- ``hard_swish``           activation timings and counts; swish and h-swish on int8 grids
- ``mobilenet_v3``         the tables by cost, the efficient last stage and stem, latency-aware search
- ``road_to_mobilenet``    VGG stacks, receptive fields, ResNeXt and DenseNet blocks, group convolution
- ``shufflenet_latency``   the G1-G4 benchmarks, channel flow, the committed latency results
- ``shufflenet_networks``  ShuffleNet V1 / V2 tables and published accuracy, V1 against G1-G4
                           (memory access cost, operator census), the committed V1-vs-V2 timings
- ``accuracy_vs_cost``     every network's published top-1 beside its counted cost and latency
- ``deployment``           the committed deployment benchmark, as rows and speed-ups
- ``compression``          pruning (global and by channel, slimmed for real), distillation and int8
                           of one trained digits model; the committed results

Import the module you need: ``from mobilenet_lib.experiments import manifold_collapse``.
"""
