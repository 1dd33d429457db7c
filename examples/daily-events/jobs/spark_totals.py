"""Totals per country over every day, with Spark (pyspark, local mode on a laptop,
the same code on EMR)."""

import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def main() -> None:
    source, target = sys.argv[1], sys.argv[2]
    spark = SparkSession.builder.appName("spark-totals").getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    events = spark.read.json(source)
    totals = (events.groupBy("country")
              .agg(F.count("*").alias("events"), F.round(F.sum("amount_eur"), 2).alias("revenue_eur"))
              .orderBy("country"))
    totals.coalesce(1).write.mode("overwrite").json(target)
    print(f"totals for {totals.count()} countries written to {target}")
    spark.stop()


if __name__ == "__main__":
    main()
