package main

import "os"

// maxRSSKB is not measured on Windows; the benchmark runs on Linux.
func maxRSSKB(*os.ProcessState) int { return 0 }
