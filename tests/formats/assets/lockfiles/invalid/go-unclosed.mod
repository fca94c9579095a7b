module example.com/app

require (
	github.com/a/b v1.0.0
