"""Phase 3 of the pipeline: what leaves the building, and only through the disclosure gate.

* :mod:`~svtools.publish.disclosure` - THE gate: every count, rate, percentage, chart value, sentence and
  download partners receive comes from a :class:`~svtools.publish.disclosure.PublishedTable` it made;
* :mod:`~svtools.publish.charts` - domain charts drawn from published tables;
* :mod:`~svtools.publish.output` - putting a figure (with alt text) or a published table (HTML + CSV) into
  the page being built;
* :mod:`~svtools.publish.sections` - the page sections, one module per notebook;
* :mod:`~svtools.publish.render` - one notebook to one no-code HTML page (papermill, warm kernels, nbconvert);
* :mod:`~svtools.publish.batch` - the batch run over every CSP and force (workers, cache, manifest, index).

Imports :mod:`svtools.analysis` and :mod:`svtools.ingest`; nothing imports back from here.
"""
