"""Phase 2 of the pipeline: statistics on the processed tables (no display, no publishing).

* :mod:`~svtools.analysis.stats` - PHEindicatormethods rates, proportions, DSR/ISR, funnels; Making Data Count SPC;
* :mod:`~svtools.analysis.measures` - the Home Office success measures by financial year;
* :mod:`~svtools.analysis.trends` - monthly series, STL, trend models, forecasts, the COVID interruption;
* :mod:`~svtools.analysis.cohorts` - who: age-sex, under 25, ethnicity, repeat victims, harm concentration;
* :mod:`~svtools.analysis.place_time` - where and when: LSOAs, deprivation gradient (SII/RII), day x hour;
* :mod:`~svtools.analysis.quality` - completeness and location quality of the records.

Imports :mod:`svtools.ingest` outputs only; nothing here imports :mod:`svtools.publish`.
"""
