module example.com/envprint

go 1.26.0
