// Package dashboards holds the Grafana dashboard for the metrics of a
// ratehttp Transport, ratehttp.json, and its tests. It has no Go API.
//
// The dashboard reads a Prometheus data source chosen when it is imported
// (the variable $datasource) and filters every panel by the client and host
// labels ($client, $host). Its tests check the JSON's structure, and, with a
// real Prometheus scraping a run of the example, that every panel's query
// returns data; see README.md, section "Grafana dashboard".
package dashboards
