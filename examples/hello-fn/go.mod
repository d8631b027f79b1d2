module example.com/hellofn

go 1.22
