"""Small neutral helpers that every layer may import: numpy and Gymnasium only, no torch, no family.

* :mod:`.stats`: running mean and variance (``RunningMeanStd``);
* :mod:`.hashing`: stable digests of observations and of rows of observation batches;
* :mod:`.counts`: visit-count tables (``VisitCounts``), shared or one per env;
* :mod:`.spaces`: flattening batches of observations to float rows, and back.
"""
