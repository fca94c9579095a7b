// A go.mod with every directive the parser meets.
module example.com/app

go 1.22.1

toolchain go1.22.4

require (
	github.com/gogo/protobuf v1.3.1
	"golang.org/x/net" v0.17.0 // indirect
	golang.org/x/text v0.3.7// indirect, no space before the comment
	github.com/old/module v1.0.0
	github.com/any/version v2.0.0+incompatible
)

require golang.org/x/crypto v0.0.0-20210921155107-089bfa567519

exclude golang.org/x/net v0.16.0

replace (
	github.com/gogo/protobuf => github.com/gogo/protobuf v1.3.2
	github.com/old/module v1.0.0 => ../old-module
	github.com/any/version v9.9.9 => example.com/unused v1.0.0
)

retract [v0.1.0, v0.1.5] // published by mistake
