"""The report, the workbook and the words around the numbers."""
