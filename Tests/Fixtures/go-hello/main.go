package main

import (
	"example.com/dep"
	"example.com/greet"
)

func main() { println(greet.Hello(), dep.Name()) }
