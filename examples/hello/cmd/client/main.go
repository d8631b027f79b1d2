// Command client asks the server for a greeting, or greets locally with -local.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"

	"example.com/hello/internal/greeting"
)

// version is set at build time: -ldflags "-X main.version=...".
var version = "dev"

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	server := flag.String("server", "http://127.0.0.1:8080", "server URL")
	local := flag.Bool("local", false, "greet without asking the server")
	name := flag.String("name", "", "who to greet")
	flag.Parse()
	switch {
	case *showVersion:
		fmt.Println("client", version)
	case *local:
		fmt.Println(greeting.For(*name))
	default:
		resp, err := http.Get(*server + "/?name=" + url.QueryEscape(*name))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(os.Stdout, resp.Body)
	}
}
