"""The report, the workbook and the words around the numbers.

:mod:`.methods` methods prose generated from the config; :mod:`.words` numbers
in words; :mod:`.provenance` checksums, package versions and the git commit;
:mod:`.tables` reading the result tables; :mod:`.workbook` the XLSX workbook;
:mod:`.page` the HTML report.
"""
