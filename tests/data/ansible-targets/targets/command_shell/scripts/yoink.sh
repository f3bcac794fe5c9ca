#!/usr/bin/env bash
sleep 10
