module zerg.example/httpd

go 1.19
