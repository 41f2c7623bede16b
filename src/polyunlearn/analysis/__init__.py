"""Analysis of finished evaluations: change matrices with paired tests, tidy results tables,
per-epoch curves, URIEL+ distances and their correlation with the transfer, the HTML report.
Stands on evaluation/, methods/, data/ and core/."""
