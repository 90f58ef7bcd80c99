"""The classroom: feedback for students and grading for instructors.

- ``checks``   what a student runs under an answer: random inputs against the library's
               reference, one named part per hint (``check_h_swish(my_h_swish)`` ...)
- ``grading``  what an instructor runs: building student versions of the assignments and grading
               a folder of submissions (``scripts/assign-build``, ``scripts/assign-grade``)
- ``sandbox``  the bubblewrap sandbox each submission runs in; ``harness`` what runs inside it
- ``judge``    the hidden tests, run in the grader on the sandbox's answers; ``wire`` the data format
"""
